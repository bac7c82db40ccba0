"""consumers/report/: the weekly 专报: figures from PostgreSQL, rendered to HTML and PDF, made every Monday
and delivered through the routing tree."""
