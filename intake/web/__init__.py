"""Transports: Twilio requests in, engine events out as TwiML."""
