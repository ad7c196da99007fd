"""The engine's side of networking: options, the netns and netavark calls, the network verbs."""
