"""The one shortcut /mcp takes past the SDK's transport, contract-tested against it."""
