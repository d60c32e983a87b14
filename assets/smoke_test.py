# smoke test (being built)
