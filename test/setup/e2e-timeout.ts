// End-to-end tests drive the real CLI over a whole pipeline run.
jest.setTimeout(900_000);
