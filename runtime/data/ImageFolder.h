//===- ImageFolder.h - a folder of class folders of images --------*- C++ -*-===//
//
// torchvision's ImageFolder layout: ROOT/CLASS/.../IMAGE. Classes are the
// subfolders in sorted (byte) order, numbered from 0; a class's images are
// listed as sorted(os.walk(...)) lists them (folders by full path, then
// file names sorted), so sample i is the image torchvision calls i. Unlike
// torchvision, hidden files and folders (a leading '.') are ignored, and
// only JPEG, PNG and WebP files (by extension, any case) are taken; a
// file's format is then told by its content.
//
//===----------------------------------------------------------------------===//
#ifndef KILN_RUNTIME_DATA_IMAGEFOLDER_H
#define KILN_RUNTIME_DATA_IMAGEFOLDER_H

#include "runtime/data/Source.h"

namespace kiln::data {

/// Whether `dir` holds at least one non-hidden subfolder (a class).
bool hasClassFolders(const std::string &dir);

/// Lists `root`'s images into `out`, and their class names into `classes`.
/// Errors: `root` is not a folder, has no class folders, or a class has no
/// image. `warnings` gets a line for images torchvision would read but
/// kiln does not decode (BMP, PPM, PGM, TIFF), counted per extension.
bool listImageFolder(const std::string &root, FileSource &out, std::vector<std::string> &classes,
                     std::vector<std::string> &warnings, std::string &error);

} // namespace kiln::data

#endif // KILN_RUNTIME_DATA_IMAGEFOLDER_H
