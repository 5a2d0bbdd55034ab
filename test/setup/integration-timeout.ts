// Integration tests talk to a real broker; their waits are bounded inside each test.
jest.setTimeout(300_000);
