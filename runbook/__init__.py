"""What a launch is: the model, the schema engine and the v1 format it is loaded with, and the
one resolve pass; no side effects beyond reading files."""
