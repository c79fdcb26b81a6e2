# nbgrader configuration for the course. The autograder copies this file into the root of every
# workspace it drives (release, grading), so every nbgrader call sees the same settings.
c = get_config()  # noqa: F821  (provided by nbgrader when it loads this file)

c.CourseDirectory.course_id = "initnorm"
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
# a single cell may run this long before nbgrader interrupts it and marks it failed
c.Execute.timeout = 180
c.Execute.interrupt_on_timeout = True
