"""What people read: the annual report (HTML, Word), the check pages, the fill-in workbook."""
