"""The agent workspace's views, by screen: the workspace itself, records, knowledge."""
