"""The notifications service: durable reminder schedule, in-app/e-mail/webhook delivery."""
