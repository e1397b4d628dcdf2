"""Appeal records (PURE): the record, its lifecycle, the classifier, deadlines, registration rules."""
