"""Shared projects: members with roles and invitations."""
