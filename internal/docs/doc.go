// Package docs holds the tests of the repository's documentation, README.md
// and docs/*.md: every Go block compiles as it stands, and every relative
// link points at a file, and a heading, that exist. It has no code of its
// own to import.
package docs
