"""The gateway's task core: its domain, persistence, application services and live hub.

Owned by the gateway service (with `gateway` above it and `graphql_schema` between); no other
service imports it.
"""
