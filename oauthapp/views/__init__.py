"""HTTP views of the authorization server: DOT's views with the MCP policy on top, one module per endpoint family."""
