"""Documents people read: PDF letters, statements and packets (`pdf`), and CSV/XLSX exports of tables (`tabular`)."""
