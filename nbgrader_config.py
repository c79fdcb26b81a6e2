# Lets nbgrader commands started at the top of the repo (e.g. JupyterLab's Validate button) use the
# course's configuration, which lives in autograder/.
load_subconfig("autograder/nbgrader_config.py")  # noqa: F821
