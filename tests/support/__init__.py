"""Local stand-ins for the services the workers talk to: Twilio, an SMTP server, the CRM."""
