"""pytest plugin: collects every shell block on the site as a test item (placeholder)."""
