"""The course's grader: release, grade a class in parallel and in isolation, feedback, the nbgrader exchange."""
import sys

# jsonschema compiles an Earley grammar for the 'iri' string format when it finds rfc3987_syntax installed: 2-5 s
# of CPU in every process that imports nbformat (each grading worker, each nbgrader call). No schema the grader or
# nbgrader validates uses that format, so every process of the grader goes without it.
sys.modules.setdefault("rfc3987_syntax", None)
