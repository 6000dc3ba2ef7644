"""The built site in a real browser: headless Debian Chromium driven by Playwright."""
