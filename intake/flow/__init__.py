"""The flow engine: pure Python. Imports no flask, twilio, redis or rq."""
