"""Every check made before a job starts, one module per concern, shared by all engines.

`findings` (the one result type), `prompts` (rendering and lengths: `s2lpo sample`, both trainers),
`store` (explorer store: tokenizer, prompt token ids, coverage), `training_data` (what both trainers
check on their data), `embedded` and `verl` (each trainer's own checks on top).
"""
