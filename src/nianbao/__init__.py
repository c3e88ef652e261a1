"""nianbao: data-quality checks for 政府信息公开工作年度报告."""

import warnings

# pyspark (a test extra) warns about pandas 3 whenever GX imports it: noise in every log.
warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas", category=FutureWarning)
