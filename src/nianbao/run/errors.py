"""A run that cannot proceed, and the Chinese name of every exit code."""

from __future__ import annotations

from ..exitcodes import ExitCode

EXIT_ZH = {
    ExitCode.OK: "全部通过",
    ExitCode.WARNINGS: "只有警告,允许发布",
    ExitCode.ERRORS: "存在错误级问题,禁止发布",
    ExitCode.INPUT_UNREADABLE: "输入无法读取或解析",
    ExitCode.CONFIG_ERROR: "配置或运行错误",
    ExitCode.USAGE: "命令用法错误",
}


class RunError(RuntimeError):
    """A run that cannot proceed; carries its exit code and a Chinese message naming the cause."""

    def __init__(self, code: ExitCode, message: str):
        super().__init__(message)
        self.code = code
