"""The course's grading tools around nbgrader: `python -m autograder release | grade`."""
