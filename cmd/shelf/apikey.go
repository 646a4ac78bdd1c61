package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/shelfcommerce/shelf/internal/auth"
	"github.com/shelfcommerce/shelf/internal/problem"
)

func init() {
	commands["apikey"] = command{"create, list or revoke admin API keys", apikey}
}

var apikeyUsage = `Usage:
  shelf apikey create --name NAME --scopes a,b   print a new key (shown once; only its hash is stored)
  shelf apikey list                              list keys (never their secrets)
  shelf apikey revoke ID|NAME                    revoke a key

Scopes: ` + strings.Join(auth.Scopes, ", ")

func apikey(ctx context.Context, e env, args []string) error {
	if len(args) == 0 || wantsHelp(args) {
		fmt.Fprintln(e.stdout, apikeyUsage)
		if len(args) == 0 {
			return &exitError{code: 2}
		}
		return nil
	}
	st, err := openCommandStore(ctx, e)
	if err != nil {
		return err
	}
	defer st.Close()
	keys := auth.NewKeys(st.Q).WithRetry(st.Retry)
	switch args[0] {
	case "create":
		fs := flag.NewFlagSet("apikey create", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		name := fs.String("name", "", "who uses the key")
		scopes := fs.String("scopes", "", "comma-separated scopes")
		if err := fs.Parse(args[1:]); err != nil {
			return &exitError{code: 2, msg: err.Error() + "\n" + apikeyUsage}
		}
		var list []string
		for _, s := range strings.Split(*scopes, ",") {
			if s = strings.TrimSpace(s); s != "" {
				list = append(list, s)
			}
		}
		secret, k, err := keys.Create(ctx, *name, list)
		if pe, ok := problem.As(err); ok {
			msgs := make([]string, 0, len(pe.Errors))
			for _, fe := range pe.Errors {
				msgs = append(msgs, "--"+fe.Field+": "+fe.Message)
			}
			return &exitError{code: 2, msg: strings.Join(msgs, "; ")}
		} else if err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, secret)
		fmt.Fprintf(e.stderr, "shelf: created key %d %q with scopes %s; store it now, it is not shown again\n",
			k.ID, k.Name, strings.Join(k.Scopes, ","))
	case "list":
		rows, err := keys.List(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tSCOPES\tCREATED\tLAST USED\tREVOKED")
		for _, r := range rows {
			last, rev := "-", "-"
			if r.LastUsedAt.Valid {
				last = r.LastUsedAt.Time.Format("2006-01-02 15:04")
			}
			if r.RevokedAt.Valid {
				rev = r.RevokedAt.Time.Format("2006-01-02 15:04")
			}
			fmt.Fprintf(tw, "%d\t%s\t%s…\t%s\t%s\t%s\t%s\n", r.ID, r.Name, r.Prefix, r.Scopes,
				r.CreatedAt.Format("2006-01-02 15:04"), last, rev)
		}
		tw.Flush()
	case "revoke":
		if len(args) != 2 {
			return &exitError{code: 2, msg: "usage: shelf apikey revoke ID|NAME"}
		}
		n, err := keys.Revoke(ctx, args[1])
		if err != nil {
			return err
		}
		if n == 0 {
			return &exitError{code: 1, msg: fmt.Sprintf("no active key %q", args[1])}
		}
		fmt.Fprintf(e.stdout, "shelf: revoked %d key(s)\n", n)
	default:
		return &exitError{code: 2, msg: fmt.Sprintf("unknown apikey command %q\n%s", args[0], apikeyUsage)}
	}
	return nil
}
