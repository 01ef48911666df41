"""Command-line options that the classifier analysis commands share (Typer option defaults)."""

from __future__ import annotations

import typer

CHECKPOINT = typer.Option(..., "--checkpoint", "-c", help="Trained weights (.th/.pt).")
DATA = typer.Option(..., "--data", "-d", help="Test images: .npz, CIFAR-10 folder, mnist:ROOT, ...")
OUTPUT = typer.Option(..., "--output", "-o", metavar="DIR", help="Folder to write.")
ARCH = typer.Option("resnet20", "--arch", "-a", help="Registered architecture.")
LIMIT = typer.Option(None, "--limit", help="First N images only.", show_default=False)
DEVICE = typer.Option("auto", "--device", help="auto, cpu, cuda, cuda:1, ...")
