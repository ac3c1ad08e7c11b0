"""The gateway service: ASGI app serving GraphQL, health, metrics and the web app."""
