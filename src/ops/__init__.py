"""Operating it: logging, Prometheus metrics of both processes, readiness."""
