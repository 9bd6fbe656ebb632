"""What technicians look at: chip maps (SVG) and self-contained report files."""
from .chipmap import chip_map_svg
from .report import check_report_path, render_html, write_report

__all__ = ["check_report_path", "chip_map_svg", "render_html", "write_report"]
