"""Where each file-based dataset lives: file names, folder layouts, download mirrors, checksums.

Layouts (relative to a data root) follow the conventions of the libraries people already use:
schedlab's own ``<root>/mnist/`` (the layout of ``shared/data``), torchvision's
``<root>/MNIST/raw/`` and ``<root>/FashionMNIST/raw/``, Keras' ``~/.keras/datasets/mnist.npz``
and ``~/.keras/datasets/fashion-mnist/``, and ``cifar-10-batches-py/`` (torchvision and Keras).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RemoteFile:
    """A file that can be downloaded, with the checksums that prove it is intact.

    A download is accepted when the md5 of the file equals ``md5``, or (for gzip files) when the
    sha256 of its uncompressed content equals ``content_sha256``. The second rule accepts a
    recompressed but identical file, such as the MNIST train images in ``shared/data``.
    """

    name: str
    md5: str
    content_sha256: str | None = None
    content_size: int | None = None


@dataclass(frozen=True)
class Layout:
    """A folder (relative to a data root) holding every one of ``files``.

    For IDX files, a name ending in ``.gz`` is also satisfied by the uncompressed file (torchvision
    keeps the uncompressed files in ``raw/``).
    """

    folder: str
    files: tuple[str, ...]


@dataclass(frozen=True)
class Source:
    """Everything needed to find or fetch one file-based dataset."""

    name: str
    layouts: tuple[Layout, ...]  # searched in order inside each root
    remote: tuple[RemoteFile, ...]  # downloaded into layouts[0] of the download root
    mirrors: tuple[str, ...]  # base URLs; the file name is appended
    archive: bool = False  # remote is one archive that unpacks into layouts[0]


IDX_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
CIFAR_FILES = (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch")

MNIST = Source(
    name="mnist",
    layouts=(
        Layout("mnist", IDX_FILES),
        Layout("MNIST/raw", IDX_FILES),
        Layout("", ("mnist.npz",)),
    ),
    remote=(
        RemoteFile(
            "train-images-idx3-ubyte.gz",
            "f68b3c2dcbeaaa9fbdd348bbdeb94873",
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
            47_040_016,
        ),
        RemoteFile(
            "train-labels-idx1-ubyte.gz",
            "d53e105ee54ea40749a09fcbcd1e9432",
            "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
            60_008,
        ),
        RemoteFile(
            "t10k-images-idx3-ubyte.gz",
            "9fb629c4189551a2d022fa330f9573f3",
            "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
            7_840_016,
        ),
        RemoteFile(
            "t10k-labels-idx1-ubyte.gz",
            "ec29112dd5afa0611ce80d1b7f02629c",
            "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
            10_008,
        ),
    ),
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
)

FASHION_MNIST = Source(
    name="fashion-mnist",
    layouts=(Layout("fashion-mnist", IDX_FILES), Layout("FashionMNIST/raw", IDX_FILES)),
    remote=(
        RemoteFile(
            "train-images-idx3-ubyte.gz",
            "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            47_040_016,
        ),
        RemoteFile(
            "train-labels-idx1-ubyte.gz",
            "25c81989df183df01b3e8a0aad5dffbe",
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            60_008,
        ),
        RemoteFile(
            "t10k-images-idx3-ubyte.gz",
            "bef4ecab320f06d8554ea6380940ec79",
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            7_840_016,
        ),
        RemoteFile(
            "t10k-labels-idx1-ubyte.gz",
            "bb300cfdad3c16e7a12a480ee83cd310",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            10_008,
        ),
    ),
    mirrors=(
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
    ),
)

CIFAR10 = Source(
    name="cifar10",
    layouts=(
        Layout("cifar-10-batches-py", CIFAR_FILES),
        Layout("cifar-10-batches-py-target/cifar-10-batches-py", CIFAR_FILES),  # Keras 3
    ),
    remote=(RemoteFile("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a"),),
    mirrors=("https://www.cs.toronto.edu/~kriz/",),
    archive=True,
)

SOURCES: dict[str, Source] = {s.name: s for s in (MNIST, FASHION_MNIST, CIFAR10)}
