"""The reliability harness: whole-stack fuzzing with hostile requests, and the secrets scan."""
