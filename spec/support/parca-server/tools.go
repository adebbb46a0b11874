//go:build tools

// Package tools keeps github.com/parca-dev/parca in this module's build list;
// scripts/gotool.sh builds github.com/parca-dev/parca/cmd/parca from here.
package tools

import _ "github.com/parca-dev/parca/pkg/parca"
