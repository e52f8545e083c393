"""The chanx apps served by this project."""
