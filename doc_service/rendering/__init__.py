"""Rendering adapters: form data → official PDF (WeasyPrint) and DOCX (docxtpl)."""
