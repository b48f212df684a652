"""Test harness: real servers (PostgreSQL, ramparts processes) started by the tests."""
