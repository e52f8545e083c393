"""The spec's index: each promise the README and ``docs/`` make, and the tests that prove it (``docs/spec.md`` opens
with it).

Reviewed by hand. A section is named ``<document>#<heading>``: the file the promises live in (``README.md``,
``docs/<page>.md``) and the heading they are under there, which the spec links to; a promise is its text there,
shortened; its tests are pytest node ids of test functions (``tests/<layer>/<module>.py::<test>``, no parameter
ids), listed e2e first in the spec. ``make spec`` fails, naming them, while any test named here is not collected
(renamed or removed) or a promise names none: point the promise at the tests that prove it now.
"""

from typing import Final

INDEX: Final[dict[str, dict[str, list[str]]]] = {
    "README.md#The protocol": {
        "Every frame about a job carries its `job_id` (the ARQ job id) and `job_type` (the type that runs).": [
            "tests/e2e/test_concurrent_jobs.py::test_four_types_sent_at_once_each_get_queuing_queued_and_their_result_under_their_own_id",
            "tests/e2e/test_concurrent_jobs.py::test_jobs_of_one_type_sent_in_the_same_instant_all_finish_under_distinct_ids",
            "tests/integration/test_whole_path.py::test_jobs_of_one_type_sent_in_the_same_instant_all_run_and_each_result_carries_its_own_id",
        ],
        "*(connect)* → `job_status` `connected`.": [
            "tests/e2e/test_job_sequences_at_seed_durations.py::test_job_sends_connected_then_queuing_queued_and_the_seed_result_under_one_id",
            "tests/unit/test_main.py::test_connecting_sends_the_connected_status",
        ],
        "`ping` → `pong`.": [
            "tests/e2e/test_typed_client.py::test_typed_client_gets_pong_for_ping",
            "tests/unit/apps/background_jobs/consumer/test_jobs.py::test_ping_gets_pong",
        ],
        "`job` → `queuing`, then `queued`, then `progress` frames while it runs, then `result` (or `error`).": [
            "tests/e2e/test_job_sequences_at_seed_durations.py::test_job_sends_connected_then_queuing_queued_and_the_seed_result_under_one_id",
            "tests/e2e/test_page_in_browser.py::test_translate_job_shows_queuing_queued_and_its_result_on_one_job_card",
            "tests/e2e/test_typed_client.py::test_typed_client_runs_a_translate_job_to_its_seed_result",
            "tests/integration/test_whole_path.py::test_job_runs_on_a_worker_process_and_its_result_reaches_the_socket",
            "tests/unit/apps/background_jobs/consumer/test_jobs.py::test_job_reports_queuing_then_queued_with_one_job_id",
        ],
        "`job_lookup` → one `job_status` frame, from any socket: `queued`, `in_progress` (with its latest"
        " progress), `result` or `error` (the live frame's text), `cancelled`, or `not_found`.": [
            "tests/e2e/test_typed_client.py::test_typed_client_looks_up_a_finished_job_from_a_new_connection",
            "tests/e2e/test_page_cancel_and_lookup.py::test_a_finished_job_looked_up_after_a_reload_shows_its_result_on_a_new_card",
            "tests/e2e/test_page_cancel_and_lookup.py::test_an_unknown_id_looked_up_shows_not_found_and_its_cancel_is_refused",
            "tests/integration/test_lookup_and_cancel.py::test_a_failed_job_looks_up_with_the_error_text_its_live_frame_had",
            "tests/integration/test_progress_across_servers.py::test_a_lookup_from_another_server_mid_job_gives_its_latest_progress",
            "tests/unit/apps/background_jobs/consumer/test_lookup_and_cancel.py::test_lookup_of_a_queued_job_says_it_is_queued",
            "tests/unit/apps/background_jobs/consumer/test_lookup_and_cancel.py::test_lookup_of_a_running_job_says_it_is_in_progress",
            "tests/unit/apps/background_jobs/consumer/test_lookup_and_cancel.py::test_lookup_of_an_aborted_job_says_it_was_cancelled",
        ],
        "`cancel` → a queued or running job: `cancelled`, and no `result` frame afterwards; a finished or"
        " unknown one: `error` saying why.": [
            "tests/e2e/test_page_cancel_and_lookup.py::test_cancelling_a_running_generate_job_shows_cancelled_and_never_its_result",
            "tests/e2e/test_page_cancel_and_lookup.py::test_an_unknown_id_looked_up_shows_not_found_and_its_cancel_is_refused",
            "tests/integration/test_lookup_and_cancel.py::test_a_queued_job_cancelled_before_a_worker_takes_it_never_runs_and_looks_up_cancelled",
            "tests/integration/test_lookup_and_cancel.py::test_a_running_job_cancelled_is_stopped_by_the_arq_cli_worker_and_sends_no_result",
            "tests/integration/test_lookup_and_cancel.py::test_cancelling_a_job_a_worker_has_finished_gets_an_error_frame_and_keeps_its_result",
            "tests/unit/apps/background_jobs/consumer/test_lookup_and_cancel.py::test_cancel_of_a_cancelled_job_gets_an_error_frame_saying_so",
            "tests/unit/apps/background_jobs/consumer/test_lookup_and_cancel.py::test_cancel_of_an_unknown_job_gets_an_error_frame_saying_there_is_none",
        ],
        "An invalid frame → chanx's `error` frame; nothing is queued; the socket stays open.": [
            "tests/e2e/test_invalid_input.py::test_bad_frame_gets_the_documented_error_frame",
            "tests/e2e/test_invalid_input.py::test_socket_keeps_serving_after_a_bad_frame",
            "tests/e2e/test_invalid_input.py::test_content_of_exactly_max_content_length_runs",
            "tests/unit/apps/background_jobs/consumer/test_invalid_frames.py::test_invalid_frame_gets_an_error_frame_naming_the_error_and_its_place_and_queues_nothing",
            "tests/unit/apps/background_jobs/consumer/test_raw_frames_properties.py::test_any_text_frame_queues_a_job_only_if_it_is_a_valid_job_and_ping_is_still_answered",
        ],
        "`type` defaults to `default`; an unknown type runs `default`, and the frames say `default`.": [
            "tests/e2e/test_unknown_job_type.py::test_an_unknown_job_type_runs_default_and_the_frames_say_default",
            "tests/e2e/test_unknown_job_type.py::test_a_job_without_a_type_runs_default",
            "tests/unit/apps/background_jobs/consumer/test_jobs.py::test_unknown_job_type_runs_default_and_the_frames_say_so",
        ],
        "Result texts are the tutorial's; simulated work is default 1 s, translate 2 s, analyze 3 s, generate"
        " 4 s, times `JOB_TIME_SCALE`.": [
            "tests/e2e/test_job_sequences_at_seed_durations.py::test_result_arrives_no_sooner_than_the_seed_duration_of_its_type",
            "tests/e2e/test_job_sequences_at_seed_durations.py::test_result_arrives_at_most_250_ms_after_the_seed_duration_of_its_type_and_the_workers_pickup",
            "tests/e2e/test_job_sequences_on_a_scaled_clock.py::test_scaled_result_arrives_no_sooner_than_the_scaled_seed_duration_of_its_type",
            "tests/unit/test_tasks.py::test_each_job_types_result_text_is_the_seeds_for_any_content",
            "tests/unit/apps/background_jobs/test_job_types.py::test_simulated_work_is_the_seeds_duration_times_job_time_scale",
        ],
        "`error` frames say what failed: the job queue is unavailable (within `ENQUEUE_TIMEOUT`), the task"
        " raised, the task timed out.": [
            "tests/integration/test_redis_restart.py::test_while_redis_is_down_a_job_gets_an_error_frame_within_the_enqueue_timeout",
            "tests/integration/test_redis_not_answering.py::test_while_redis_does_not_answer_a_job_gets_an_error_frame_saying_so_within_the_enqueue_timeout",
            "tests/integration/test_job_failures.py::test_a_job_that_raises_gets_an_error_frame_with_its_job_id",
            "tests/integration/test_job_failures.py::test_a_job_over_its_timeout_gets_an_error_frame_with_its_job_id",
            "tests/unit/apps/background_jobs/consumer/test_jobs.py::test_lost_redis_gives_an_error_frame_and_the_socket_keeps_serving",
        ],
    },
    "docs/protocol.md#The protocol in detail": {
        "A job's outcome never overtakes its `queued` frame, and is sent exactly once.": [
            "tests/e2e/test_job_sequences_at_seed_durations.py::test_job_sends_connected_then_queuing_queued_and_the_seed_result_under_one_id",
            "tests/integration/test_lost_events.py::test_an_outcome_delivered_by_its_event_is_not_sent_again_by_recovery",
            "tests/unit/apps/background_jobs/consumer/test_jobs.py::test_a_result_arriving_during_the_enqueue_waits_for_the_queued_frame",
            "tests/unit/web/test_pending.py::test_an_outcome_claimed_while_its_lookup_is_in_flight_is_not_sent_again",
        ],
        "**Progress.** `progress` frames from 0 as a job starts, one per `PROGRESS_INTERVAL` (coalesced, the"
        " latest wins); `generate`'s carry its growing `partial` text; after `queued`, before the outcome, never"
        " going down (not even across a re-run), nothing after `cancelled`; kept in Redis for lookups;"
        " best-effort; none at `JOB_TIME_SCALE=0`.": [
            "tests/e2e/test_job_sequences_at_seed_durations.py::test_progress_frames_come_between_queued_and_the_result_at_least_one_per_half_second_of_work",
            "tests/e2e/test_job_sequences_at_seed_durations.py::test_progress_frames_are_coalesced_to_at_most_one_per_progress_interval",
            "tests/e2e/test_job_sequences_at_seed_durations.py::test_progress_frames_carry_the_jobs_id_and_type_and_a_percentage_that_never_goes_down",
            "tests/e2e/test_job_sequences_at_seed_durations.py::test_each_progress_frame_arrives_within_250_ms_of_its_share_of_the_duration_after_queued",
            "tests/e2e/test_job_sequences_at_seed_durations.py::test_generate_streams_growing_prefixes_of_its_result_text",
            "tests/e2e/test_page_in_browser.py::test_a_running_generate_job_shows_a_moving_progress_bar_and_its_text_growing",
            "tests/integration/test_progress_across_servers.py::test_each_socket_gets_the_progress_of_its_own_job_only_across_two_servers",
            "tests/unit/apps/background_jobs/consumer/test_progress.py::test_nothing_follows_a_cancel",
            "tests/unit/worker_side/progress_reporter/test_reports.py::test_a_rerun_says_where_its_first_run_was_until_it_gets_further",
            "tests/unit/worker_side/progress_reporter/test_reports.py::test_each_sent_report_is_kept_in_redis_for_keep_result",
            "tests/unit/worker_side/progress_reporter/test_reports.py::test_a_report_redis_does_not_take_is_still_sent_and_the_job_goes_on",
            "tests/unit/worker_side/test_simulated_work.py::test_at_scale_0_simulated_work_neither_waits_nor_reports",
        ],
        "A result (or error) can be looked up for as long as ARQ keeps it (`KEEP_RESULT`); an unknown id's"
        " `job_type` is its prefix if that is a job type, else `unknown`.": [
            "tests/e2e/test_typed_client.py::test_typed_client_looks_up_a_finished_job_from_a_new_connection",
            "tests/integration/test_lookup_and_cancel.py::test_a_result_can_be_looked_up_from_a_new_socket_after_the_asking_socket_left",
            "tests/integration/test_lookup_and_cancel.py::test_a_result_is_kept_for_keep_result_seconds",
            "tests/unit/apps/background_jobs/consumer/test_lookup_and_cancel.py::test_lookup_of_an_unknown_job_says_not_found_typed_by_its_ids_prefix",
        ],
        "`cancel` records ARQ's abort and answers at once; a job cancelled from another socket ends on its own"
        " socket with `cancelled`; the socket that cancelled a job never sends its result.": [
            "tests/integration/test_lookup_and_cancel.py::test_a_job_cancelled_from_another_socket_ends_on_its_own_socket_with_a_cancelled_frame",
            "tests/integration/test_lookup_and_cancel.py::test_a_running_job_cancelled_is_stopped_by_the_arq_cli_worker_and_sends_no_result",
            "tests/unit/apps/background_jobs/consumer/test_lookup_and_cancel.py::test_cancel_of_a_running_job_records_arqs_abort_and_says_cancelled",
            "tests/unit/apps/background_jobs/consumer/test_lookup_and_cancel.py::test_no_result_frame_is_sent_for_a_job_after_its_cancel",
        ],
        "At most `MAX_JOBS_IN_FLIGHT` jobs per socket await their outcome; one over gets `error` under its own"
        " fresh id and is not queued.": [
            "tests/e2e/test_hardening.py::test_a_job_over_max_jobs_in_flight_gets_an_error_frame_and_is_not_queued",
            "tests/e2e/test_hardening.py::test_another_socket_has_its_own_max_jobs_in_flight",
            "tests/e2e/test_hardening.py::test_cancelling_a_job_in_flight_makes_room_for_another",
            "tests/unit/apps/background_jobs/consumer/test_limits.py::test_a_job_over_max_jobs_in_flight_gets_an_error_frame_with_its_own_id_and_is_not_queued",
        ],
        "A request naming a host not in `ALLOWED_HOSTS` gets HTTP 400; a handshake naming one, 403 before the"
        " socket opens.": [
            "tests/e2e/test_who_may_connect.py::test_an_http_request_naming_a_foreign_host_gets_400",
            "tests/e2e/test_who_may_connect.py::test_a_dns_rebinding_handshake_naming_a_foreign_host_is_refused_before_the_socket_opens",
        ],
        "A browser handshake (with an `Origin`) gets 403 unless its origin is on an allowed host and the"
        " request's port, or in `ALLOWED_ORIGINS`; a handshake without one is served.": [
            "tests/e2e/test_hardening.py::test_a_browser_handshake_from_a_foreign_origin_is_refused_with_403",
            "tests/e2e/test_hardening.py::test_a_handshake_from_the_apps_own_origin_an_allowed_one_or_none_is_served",
            "tests/unit/web/test_origin_check.py::test_a_page_on_another_port_of_an_allowed_host_is_another_origin",
            "tests/unit/web/test_origin_check.py::test_an_origin_listed_in_allowed_origins_is_allowed",
        ],
        "With token authentication on, a handshake without a valid, unexpired JWT gets 403, and a socket sees"
        " only its user's jobs; a socket is closed with 4401 `token expired` when its token expires.": [
            "tests/e2e/test_who_may_connect.py::test_with_authentication_on_a_handshake_without_a_valid_token_is_refused_with_403",
            "tests/e2e/test_who_may_connect.py::test_two_users_each_get_their_own_results_and_cannot_look_up_or_cancel_the_others_jobs",
            "tests/e2e/test_token_lifetime.py::test_a_socket_is_closed_with_4401_token_expired_soon_after_its_token_expires_with_a_job_in_flight",
        ],
        "A frame over `WS_MAX_SIZE` bytes closes that socket with 1009; other sockets and the server go on.": [
            "tests/e2e/test_invalid_input.py::test_frame_above_the_servers_size_limit_closes_that_socket_with_1009",
            "tests/e2e/test_invalid_input.py::test_frame_of_exactly_the_servers_size_limit_is_read",
            "tests/e2e/test_invalid_input.py::test_other_sockets_keep_serving_after_a_frame_above_the_size_limit",
            "tests/e2e/test_invalid_input.py::test_new_sockets_are_served_after_a_frame_above_the_size_limit",
            "tests/unit/test_base_consumer.py::test_a_frame_over_ws_max_size_bytes_closes_the_socket_with_1009",
        ],
        "While Redis is unreachable, a new handshake is accepted and closed at once with 1013 (Try Again"
        " Later); nothing is logged as an error.": [
            "tests/integration/test_redis_restart.py::test_while_redis_is_down_a_new_handshake_is_closed_with_1013_try_again_later",
            "tests/unit/web/test_gate.py::test_a_handshake_while_redis_is_unreachable_is_closed_with_1013_try_again_later",
            "tests/unit/web/test_gate.py::test_a_handshake_while_the_job_queue_is_unreachable_is_logged",
        ],
        "A server holding `MAX_CONNECTIONS` sockets closes a new handshake with 1013 and says why.": [
            "tests/integration/test_server_bounds.py::test_a_server_at_max_connections_closes_a_new_handshake_with_1013_and_takes_one_again_later",
            "tests/unit/web/test_admission.py::test_a_handshake_over_max_connections_is_closed_with_1013_saying_so_and_welcome_once_one_closes",
        ],
        "A job that finds ARQ's queue holding `MAX_QUEUE_DEPTH` jobs gets `error` (the queue is full) and is"
        " not queued.": [
            "tests/integration/test_server_bounds.py::test_a_job_over_max_queue_depth_is_refused_and_not_queued_and_one_is_taken_once_there_is_room",
            "tests/unit/web/test_admission.py::test_a_job_over_max_queue_depth_gets_an_error_saying_the_queue_is_full_and_is_not_queued",
        ],
        "A busy server answers later; it does not refuse.": [
            "tests/integration/test_flood.py::test_two_thousand_sockets_sending_one_job_each_at_once_each_get_their_own_result_none_refused",
            "tests/unit/web/test_admission.py::test_at_max_enqueue_backlog_the_next_frame_waits_unread_and_is_answered_once_the_backlog_drains",
        ],
    },
    "docs/who-may-connect.md#Who may connect": {
        "**Hosts.** Every request must name one allowed host (`ALLOWED_HOSTS`): HTTP 400 otherwise (two `Host`"
        " headers: on every path), and a handshake is refused before it opens (DNS rebinding).": [
            "tests/e2e/test_who_may_connect.py::test_an_http_request_naming_a_foreign_host_gets_400",
            "tests/e2e/test_who_may_connect.py::test_a_dns_rebinding_handshake_naming_a_foreign_host_is_refused_before_the_socket_opens",
            "tests/e2e/test_who_may_connect.py::test_an_http_request_with_two_host_headers_gets_400_from_a_real_server_whatever_its_path",
            "tests/e2e/test_who_may_connect.py::test_a_handshake_with_two_host_headers_is_refused_by_a_real_server_with_403_and_no_error_logged",
            "tests/unit/test_main.py::test_the_app_checks_the_host_first_then_takes_the_shortcut_for_its_socket",
        ],
        "**Origins.** A browser's handshake is served when its origin is an allowed host at the request's port"
        " (a `Host` without one: the handshake's scheme's default), or listed in `ALLOWED_ORIGINS`; never"
        " compared with the `Host` header; `*` vouches for no origin.": [
            "tests/e2e/test_hardening.py::test_a_browser_handshake_from_a_foreign_origin_is_refused_with_403",
            "tests/e2e/test_hardening.py::test_the_server_goes_on_serving_after_refusing_a_foreign_origin",
            "tests/unit/web/test_origin_check.py::test_the_origin_is_never_compared_with_the_host_the_request_claims",
            "tests/unit/web/test_origin_check.py::test_a_wildcard_host_vouches_for_no_origin",
            "tests/unit/web/test_origin_check.py::test_over_plain_ws_a_host_header_without_a_port_means_port_80",
            "tests/unit/web/test_origin_check.py::test_over_wss_a_host_header_without_a_port_means_port_443",
        ],
        "**Tokens.** With `AUTH_JWT_SECRET` or `AUTH_JWT_PUBLIC_KEY` set, a handshake needs a valid JWT (Bearer"
        " header, `token` query parameter or `access_token` cookie) with a finite, numeric `exp` (within"
        " `AUTH_MAX_TOKEN_AGE` when set); without one, 403, never logged as an error.": [
            "tests/e2e/test_who_may_connect.py::test_with_authentication_on_a_handshake_without_a_valid_token_is_refused_with_403",
            "tests/e2e/test_who_may_connect.py::test_a_token_may_come_as_a_bearer_header_or_a_cookie",
            "tests/unit/web/test_token_auth.py::test_a_token_whose_exp_is_missing_or_whose_times_are_not_json_numbers_is_refused",
            "tests/unit/web/test_token_auth.py::test_a_signed_token_whose_times_are_not_finite_is_refused_and_nothing_else_is_raised",
            "tests/unit/web/test_token_auth.py::test_a_token_expiring_further_away_than_auth_max_token_age_is_refused",
            "tests/unit/web/test_token_auth.py::test_a_handshake_whose_token_lacks_a_numeric_exp_is_refused_before_accept_and_logged_at_info_only",
        ],
        "**Tokens end sockets.** At its token's `exp` a socket is closed with 4401 `token expired`, jobs in flight"
        " or not; a frame that arrives after the `exp` is not handled.": [
            "tests/e2e/test_token_lifetime.py::test_a_socket_is_closed_with_4401_token_expired_soon_after_its_token_expires_with_a_job_in_flight",
            "tests/unit/web/test_token_expiry.py::test_a_socket_is_closed_with_4401_token_expired_when_its_token_expires",
            "tests/unit/web/test_token_expiry.py::test_a_frame_that_arrives_after_the_tokens_exp_closes_the_socket_and_is_not_handled",
        ],
        "**The page** takes a token from its address or an `access_token` cookie, and says when it needs one (also"
        " when its token has expired, instead of reconnecting).": [
            "tests/e2e/test_page_with_a_token.py::test_the_page_given_a_token_in_its_address_connects_runs_a_job_and_drops_the_token_from_the_address",
            "tests/e2e/test_page_with_a_token.py::test_the_page_with_an_access_token_cookie_connects_with_it",
            "tests/e2e/test_page_with_a_token.py::test_the_page_without_a_token_says_it_needs_one_and_connects_once_given_one",
            "tests/e2e/test_page_with_a_token.py::test_the_page_whose_token_expires_asks_for_a_fresh_one_instead_of_reconnecting_and_connects_once_given_one",
        ],
        "**Whose jobs are whose.** Another user's `job_lookup` and `cancel` answer as for an id that does not"
        " exist, on any server; results go only to the socket that sent the job; the ids' key is made in Redis,"
        " not derived from anything configured.": [
            "tests/e2e/test_who_may_connect.py::test_two_users_each_get_their_own_results_and_cannot_look_up_or_cancel_the_others_jobs",
            "tests/e2e/test_who_may_connect.py::test_a_user_cannot_cancel_anothers_running_job_which_still_gets_its_result",
            "tests/e2e/test_who_may_connect.py::test_a_job_id_made_on_one_server_is_its_owners_on_another_server_sharing_the_redis_and_no_one_elses",
            "tests/unit/web/test_ownership.py::test_the_owners_tag_cannot_be_made_from_the_token_key_the_server_is_configured_with",
        ],
        "**How much one user may hold.** With authentication on, `MAX_SOCKETS_PER_USER` open sockets and"
        " `MAX_JOBS_PER_USER` jobs queued or running, counted across servers in Redis: over either, a handshake"
        " closed with 1013 or an `error` frame, saying so; other users are served; a reconnect resets nothing."
        " `MAX_SOCKETS_PER_CLIENT` (per address, per server) is off by default.": [
            "tests/integration/test_limits_per_user.py::test_a_users_sockets_on_two_servers_count_against_one_limit_and_a_closed_one_makes_room",
            "tests/integration/test_limits_per_user.py::test_a_users_jobs_on_two_servers_count_against_one_limit_and_a_reconnect_does_not_reset_it",
            "tests/integration/test_limits_per_user.py::test_a_real_worker_finishing_a_users_jobs_frees_their_slots",
            "tests/unit/web/user_limits/test_through_the_socket.py::test_the_21st_socket_of_one_user_is_closed_with_1013_saying_so_while_another_users_socket_is_served",
            "tests/unit/web/user_limits/test_through_the_socket.py::test_a_job_over_max_jobs_per_user_gets_an_error_frame_with_its_id_and_type_and_is_not_queued",
            "tests/unit/web/user_limits/test_through_the_socket.py::test_a_server_that_crashed_holding_a_users_sockets_frees_them_once_their_leases_expire",
            "tests/unit/web/test_gate.py::test_max_sockets_per_client_is_off_by_default_so_many_sockets_from_one_address_are_served",
            "tests/unit/web/test_gate.py::test_behind_a_trusted_proxy_sockets_are_counted_by_the_client_the_proxy_names",
        ],
        "**With authentication off, a job id is a capability**: any socket that knows it may look the job up or"
        " cancel it; the server sends each id only to the socket that queued the job.": [
            "tests/e2e/test_concurrent_jobs.py::test_each_socket_gets_the_frames_of_its_own_job_only",
            "tests/integration/test_lookup_and_cancel.py::test_a_job_cancelled_from_another_socket_ends_on_its_own_socket_with_a_cancelled_frame",
            "tests/unit/apps/background_jobs/consumer/test_lookup_and_cancel.py::test_lookup_of_another_sockets_job_gives_the_same_answer",
        ],
    },
    "docs/operating.md#Healing without a human": {
        "**Redis restarts.** The worker rides them out; the web side fails fast meanwhile (`error` within"
        " `ENQUEUE_TIMEOUT`, handshakes closed with 1013); old and new sockets get results afterwards; queued"
        " jobs survive on a persisting Redis.": [
            "tests/integration/test_redis_restart.py::test_while_redis_is_down_a_job_gets_an_error_frame_within_the_enqueue_timeout",
            "tests/integration/test_redis_restart.py::test_while_redis_is_down_a_new_handshake_is_closed_with_1013_try_again_later",
            "tests/integration/test_redis_restart.py::test_a_job_queued_before_the_outage_still_reaches_its_socket",
            "tests/integration/test_redis_restart.py::test_after_redis_returns_a_socket_opened_before_the_outage_gets_results_again",
            "tests/integration/test_redis_restart.py::test_after_redis_returns_a_new_socket_gets_results",
            "tests/integration/test_redis_restart.py::test_the_worker_process_stays_alive_across_the_restart",
            "tests/integration/test_queued_job_survives_redis_restart.py::test_a_job_waiting_in_the_queue_across_a_redis_restart_with_aof_runs_afterwards_and_reaches_its_socket",
            "tests/unit/test_settings.py::test_reconnects_back_off_exponentially_from_50_ms_up_to_1_s",
        ],
        "**Lost events.** An outcome overdue by `RESULT_RECOVERY_GRACE` is looked up in ARQ's store and sent;"
        " each outcome is sent once, whichever way it came.": [
            "tests/integration/test_lost_events.py::test_a_result_whose_event_was_lost_is_recovered_from_arqs_stored_result",
            "tests/integration/test_lost_events.py::test_a_failure_whose_event_was_lost_is_recovered_with_the_same_error_text",
            "tests/integration/test_lost_events.py::test_an_outcome_delivered_by_its_event_is_not_sent_again_by_recovery",
            "tests/unit/web/test_pending.py::test_an_overdue_outcome_is_looked_up_and_delivered_once",
        ],
        "**Worker crashes.** A job whose worker was killed is re-run by another worker; `start_dev` restarts a"
        " dead worker.": [
            "tests/integration/test_worker_crashes.py::test_a_job_whose_worker_is_killed_is_rerun_by_a_new_worker_and_its_socket_gets_the_result",
            "tests/integration/test_start_dev.py::test_start_dev_restarts_a_worker_that_dies",
            "tests/unit/test_start_dev.py::test_a_worker_that_exits_is_restarted_after_the_backoff_and_reported_running_once_it_checks_in",
        ],
        "**SIGTERM.** The worker takes no new job, lets running ones finish for `WORKER_SHUTDOWN_GRACE`, and"
        " puts the rest back on the queue.": [
            "tests/integration/test_worker_crashes.py::test_a_worker_stopped_with_sigterm_finishes_its_running_job_first",
            "tests/integration/test_worker_crashes.py::test_a_worker_stopped_with_sigterm_past_its_grace_requeues_the_job_for_another_worker",
            "tests/integration/test_worker_sigterm_takes_no_new_jobs.py::test_a_worker_given_sigterm_takes_no_new_job_while_it_finishes_its_running_one_and_the_next_worker_runs_it",
        ],
        "**A client that leaves** while its job is being queued causes no traceback; a job it was told is"
        " `queued` still runs.": [
            "tests/e2e/test_client_leaves.py::test_client_closing_right_after_sending_a_job_leaves_no_traceback_in_the_server_log",
            "tests/e2e/test_client_leaves.py::test_client_leaving_while_its_job_runs_leaves_no_traceback_in_the_server_or_worker_log",
            "tests/unit/apps/background_jobs/consumer/test_client_leaves.py::test_client_that_leaves_during_the_enqueue_still_gets_its_job_run",
        ],
    },
}
