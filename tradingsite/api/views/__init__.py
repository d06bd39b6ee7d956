"""The API's views, one module per area. Each parses input, calls a service or selector, shapes output."""
