"""The SQL the scripts send, by subject; ``sql_queries.py`` re-exports it for the scripts."""
