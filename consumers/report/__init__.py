"""consumers/report/: the weekly 专报: figures from PostgreSQL, rendered to HTML and PDF, made every Monday
and delivered through the routing tree; in a district, the district's own composed from its streets' stored
figures (district.py, district_page.py) once they are all made (docs/weekly-report.md)."""
