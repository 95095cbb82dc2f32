"""Reports of one night: the by-exposure status table, the HTML page and its plots."""
