"""What a short command line means: model shorthand, the recipe for an explorer, the newest run."""
