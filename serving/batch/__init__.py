"""Offline batch scoring: note-file readers, result writers, resumable local runs and Ray Data jobs."""
