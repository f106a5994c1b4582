"""The rules: one function per rule on the tables, the report's text rules, accepted exceptions."""
