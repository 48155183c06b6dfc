"""Local stand-ins for running the handlers with no cloud account and no Docker: moto for AWS,
a Jira REST stand-in and a Sentry envelope receiver, all on 127.0.0.1 or in process."""
