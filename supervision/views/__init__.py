"""The supervisor's views: the ongoing-conversations dashboard, and one conversation's page and actions."""
