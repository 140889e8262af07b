"""`s2lpo eval`: generate k responses per benchmark question, grade them, write results (resumable)."""
