"""Type stubs of the native module (engine/python/src/lib.rs)."""

from typing import List, Optional, Tuple

__version__: str

def run(
    file: str,
    out: Optional[str] = None,
    seed: Optional[int] = None,
    seeds: Optional[int] = None,
    overrides: List[str] = ...,
    threads: Optional[int] = None,
    overwrite: bool = False,
    quiet: bool = True,
) -> Tuple[str, str]: ...
def resume(
    out: str,
    threads: Optional[int] = None,
    allow_version_change: bool = False,
    quiet: bool = True,
) -> Optional[str]: ...
def compare(
    file: str,
    out: Optional[str] = None,
    seed: Optional[int] = None,
    seeds: Optional[int] = None,
    threads: Optional[int] = None,
    overwrite: bool = False,
    resume: bool = False,
    quiet: bool = True,
) -> Tuple[str, str]: ...
def eval_predictors(
    file: str, out: Optional[str] = None, overwrite: bool = False, quiet: bool = True
) -> Tuple[str, str]: ...
def run_files(out: str, i: int) -> Tuple[str, str]: ...
def toml_of_json(json: str) -> str: ...
def best_of(summary: str) -> Optional[str]: ...

class Search:
    @staticmethod
    def start(
        text: str,
        path: str,
        out: str,
        overrides: List[str] = ...,
        overwrite: bool = False,
        workers: int = 1,
    ) -> "Search": ...
    @staticmethod
    def resume(out: str) -> "Search": ...
    def ask(self) -> Optional[Tuple[int, int, str]]: ...
    def tell(
        self,
        run: int,
        query: int,
        val: Optional[float] = None,
        test: Optional[float] = None,
        cost_seconds: float = 0.0,
        reason: Optional[str] = None,
    ) -> None: ...
    def outstanding(self) -> List[Tuple[int, int]]: ...
    @property
    def out(self) -> str: ...

class Estimator:
    def __init__(self, params: str, benchmark: str, base: str) -> None: ...
    def fit(self, archs: List[str], y: List[float], seed: int) -> None: ...
    def predict(self, archs: List[str]) -> List[float]: ...
    def save(self, dir: str) -> None: ...
