"""`mgfast recognize`: micro-gesture segments (start, end, class) in untrimmed videos."""
