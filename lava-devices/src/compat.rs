//! Source rewrites that make minijinja behave like Jinja2 where no setting
//! can.
//!
//! minijinja has no option for three Jinja2 behaviours that templates may
//! rely on, so every template is rewritten, text to text, before minijinja
//! compiles it. The rewrites only insert or rename, never add a line
//! break, so line numbers in error messages stay those of the file.
//!
//! 1. **Block scoping.** In Jinja2 a `{% block %}` body is a function of the
//!    template context only: names bound inside an enclosing block (by
//!    `set`) or by an enclosing `for`/`with` are invisible in a nested
//!    block. minijinja renders a nested block on top of the enclosing
//!    frames, so it sees them. LAVA's `d03.jinja2` depends on the Jinja2
//!    rule (it renders `console=,`). Such names are renamed to
//!    `__lava_bN_name` inside the enclosing scope, so the nested block
//!    looks up the original name and finds the context value, as in
//!    Jinja2. A block that renames a name starts with
//!    `{% set __lava_bN_name = name %}`, so reads before the first `set`
//!    still see the outer value, as Jinja2 does.
//! 2. **`%` on strings** (`'%s-%d' % ('a', 3)`) is Python's printf-style
//!    formatting in Jinja2 and an error in minijinja. `A % B` becomes
//!    `((A)|lava_jinja2_mod(B))`; the filter formats strings and computes
//!    the remainder of numbers exactly as minijinja's `%` does.
//! 3. **Iterating a string** yields its characters in both engines, but
//!    minijinja does not know the length of that iteration, so
//!    `loop.last`, `loop.length` and `loop.revindex` are wrong. The
//!    iterable of every `for` (except list, tuple and dict literals) goes
//!    through the `lava_jinja2_iterable` filter, which turns a string into
//!    the list of its characters and passes anything else through.
//!
//! A template that does not parse is returned unchanged (minijinja then
//! reports the syntax error with the file and line). A rewrite that does
//! not parse (a bug) is logged and the original text is used.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use minijinja::machinery::ast::{self, BinOpKind, CallArg, Expr, Stmt};
use minijinja::machinery::{parse, tokenize, Span, Token};
use minijinja::syntax::SyntaxConfig;

/// Name of the filter that implements Jinja2's `%` operator.
pub(crate) const MOD_FILTER: &str = "lava_jinja2_mod";
/// Name of the filter that makes strings iterate with a known length.
pub(crate) const ITERABLE_FILTER: &str = "lava_jinja2_iterable";

/// Template text as Jinja2's lexer sees it, then rewritten: line ends
/// normalised to `\n` (every line boundary of Python's `str.splitlines`,
/// as Jinja2 2.10 does) and one final line end dropped (Jinja2's
/// `keep_trailing_newline=False`).
pub(crate) fn prepare<'s>(source: &'s str, name: &str) -> Cow<'s, str> {
    let exotic = |c: char| {
        matches!(
            c,
            '\r' | '\x0b' | '\x0c' | '\x1c' | '\x1d' | '\x1e' | '\u{85}' | '\u{2028}' | '\u{2029}'
        )
    };
    if source.contains(exotic) {
        let normalized = crate::jinja2::python_splitlines(source).join("\n");
        Cow::Owned(rewrite(&normalized, name).into_owned())
    } else {
        rewrite(source.strip_suffix('\n').unwrap_or(source), name)
    }
}

/// Rewrites `source` (the template `name`) for Jinja2 semantics; see the
/// module documentation.
pub(crate) fn rewrite<'s>(source: &'s str, name: &str) -> Cow<'s, str> {
    if !source.contains("{%") && !source.contains("{{") {
        return Cow::Borrowed(source);
    }
    let Ok(template) = parse(source, name, SyntaxConfig::default()) else {
        return Cow::Borrowed(source);
    };
    // Node spans do not always cover a whole expression (a call's span
    // starts at its `.name`, a filter's is its name), so operator and
    // operand positions are found in the token stream.
    let Ok(tokens) =
        tokenize(source, false, SyntaxConfig::default()).collect::<Result<Vec<_>, _>>()
    else {
        return Cow::Borrowed(source);
    };
    let mut rewriter = Rewriter {
        source,
        tokens,
        edits: Vec::new(),
        next_scope: 0,
    };
    rewriter.stmt(&template, &Renames::new(), 0);
    if rewriter.edits.is_empty() {
        return Cow::Borrowed(source);
    }
    let rewritten = apply(source, rewriter.edits);
    match parse(&rewritten, name, SyntaxConfig::default()) {
        Ok(_) => Cow::Owned(rewritten),
        Err(err) => {
            log::warn!("Jinja2 compatibility rewrite of {name} failed ({err}); using it unchanged");
            #[cfg(test)]
            FAILED_REWRITES.with(|f| f.borrow_mut().push(format!("{name}: {err}\n{rewritten}")));
            Cow::Borrowed(source)
        }
    }
}

#[cfg(test)]
thread_local! {
    /// Rewrites that did not parse, for tests to assert there are none.
    static FAILED_REWRITES: std::cell::RefCell<Vec<String>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// One text edit. At the same offset, closing insertions go first (inner
/// before outer), then opening insertions (outer before inner), then a
/// replacement that starts there.
#[derive(Debug)]
struct Edit {
    offset: usize,
    kind: EditKind,
    depth: usize,
    text: String,
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
enum EditKind {
    Close,
    Open,
    /// Replaces `len` bytes.
    Replace(usize),
}

fn apply(source: &str, mut edits: Vec<Edit>) -> String {
    edits.sort_by(|a, b| {
        a.offset
            .cmp(&b.offset)
            .then_with(|| match (a.kind, b.kind) {
                (EditKind::Close, EditKind::Close) => b.depth.cmp(&a.depth),
                (EditKind::Open, EditKind::Open) => a.depth.cmp(&b.depth),
                (x, y) => x.cmp(&y),
            })
    });
    let extra: usize = edits.iter().map(|e| e.text.len()).sum();
    let mut out = String::with_capacity(source.len() + extra);
    let mut pos = 0;
    for edit in edits {
        if edit.offset < pos {
            // Overlapping replacements cannot happen with a well-formed
            // tree; skip rather than corrupt the text.
            continue;
        }
        out.push_str(&source[pos..edit.offset]);
        out.push_str(&edit.text);
        pos = match edit.kind {
            EditKind::Replace(len) => edit.offset + len,
            _ => edit.offset,
        };
    }
    out.push_str(&source[pos..]);
    out
}

/// Names renamed in the current scope: original name -> new name.
type Renames = BTreeMap<String, String>;

struct Rewriter<'s> {
    source: &'s str,
    tokens: Vec<(Token<'s>, Span)>,
    edits: Vec<Edit>,
    next_scope: usize,
}

/// How a token changes the bracket depth.
fn depth_change(token: &Token<'_>) -> i32 {
    match token {
        Token::ParenOpen | Token::BracketOpen | Token::BraceOpen => 1,
        Token::ParenClose | Token::BracketClose | Token::BraceClose => -1,
        _ => 0,
    }
}

impl<'s> Rewriter<'s> {
    fn push(&mut self, offset: u32, kind: EditKind, depth: usize, text: String) {
        self.edits.push(Edit {
            offset: offset as usize,
            kind,
            depth,
            text,
        });
    }

    fn fresh_prefix(&mut self) -> String {
        let prefix = format!("__lava_b{}_", self.next_scope);
        self.next_scope += 1;
        prefix
    }

    fn stmts(&mut self, stmts: &[Stmt<'_>], renames: &Renames, depth: usize) {
        for stmt in stmts {
            self.stmt(stmt, renames, depth);
        }
    }

    fn stmt(&mut self, stmt: &Stmt<'_>, renames: &Renames, depth: usize) {
        match stmt {
            Stmt::Template(t) => self.stmts(&t.children, renames, depth),
            Stmt::EmitExpr(e) => self.expr(&e.expr, renames, depth),
            Stmt::EmitRaw(_) => {}
            Stmt::ForLoop(f) => self.for_loop(f, renames, depth),
            Stmt::IfCond(i) => {
                self.expr(&i.expr, renames, depth);
                self.stmts(&i.true_body, renames, depth);
                self.stmts(&i.false_body, renames, depth);
            }
            Stmt::WithBlock(w) => {
                for (_, value) in &w.assignments {
                    self.expr(value, renames, depth);
                }
                let mut targets = BTreeSet::new();
                for (target, _) in &w.assignments {
                    bound_names(target, &mut targets);
                }
                let inner = self.scope_renames(&targets, &w.body, renames);
                for (target, _) in &w.assignments {
                    self.expr(target, &inner, depth);
                }
                self.stmts(&w.body, &inner, depth);
            }
            Stmt::Set(s) => {
                self.expr(&s.target, renames, depth);
                self.expr(&s.expr, renames, depth);
            }
            Stmt::SetBlock(s) => {
                self.expr(&s.target, renames, depth);
                if let Some(filter) = &s.filter {
                    self.expr(filter, renames, depth);
                }
                self.stmts(&s.body, renames, depth);
            }
            Stmt::AutoEscape(a) => {
                self.expr(&a.enabled, renames, depth);
                self.stmts(&a.body, renames, depth);
            }
            Stmt::FilterBlock(f) => {
                self.expr(&f.filter, renames, depth);
                self.stmts(&f.body, renames, depth);
            }
            Stmt::Block(b) => self.block(b, depth),
            Stmt::Import(i) => {
                self.expr(&i.expr, renames, depth);
                self.expr(&i.name, renames, depth);
            }
            Stmt::FromImport(i) => self.expr(&i.expr, renames, depth),
            Stmt::Extends(e) => self.expr(&e.name, renames, depth),
            Stmt::Include(i) => self.expr(&i.name, renames, depth),
            Stmt::Macro(m) => self.macro_decl(m, renames, depth),
            Stmt::CallBlock(c) => {
                self.call(&c.call, renames, depth);
                self.macro_decl(&c.macro_decl, renames, depth);
            }
            Stmt::Do(d) => self.call(&d.call, renames, depth),
        }
    }

    /// A `for` loop: the iterable is evaluated outside the loop's scope;
    /// the target is renamed in the body when a nested block reads it.
    fn for_loop(&mut self, f: &ast::Spanned<ast::ForLoop<'_>>, renames: &Renames, depth: usize) {
        let iter = &f.iter;
        self.expr(iter, renames, depth + 1);
        if !matches!(iter, Expr::List(_) | Expr::Tuple(_) | Expr::Map(_)) {
            if let Some((start, end)) = self.iterable_extent(f.span().start_offset) {
                self.push(start, EditKind::Open, depth, "((".into());
                self.push(end, EditKind::Close, depth, format!(")|{ITERABLE_FILTER})"));
            }
        }
        let mut targets = BTreeSet::new();
        bound_names(&f.target, &mut targets);
        let inner = self.scope_renames(&targets, &f.body, renames);
        self.expr(&f.target, &inner, depth);
        if let Some(filter) = &f.filter_expr {
            self.expr(filter, &inner, depth);
        }
        self.stmts(&f.body, &inner, depth);
        self.stmts(&f.else_body, renames, depth);
    }

    /// The renames in force inside a construct that binds `targets` around
    /// `body`: a target read by a block nested in `body` gets a new name.
    fn scope_renames(
        &mut self,
        targets: &BTreeSet<String>,
        body: &[Stmt<'_>],
        renames: &Renames,
    ) -> Renames {
        let mut read = BTreeSet::new();
        nested_block_reads(body, &mut read);
        let hidden: Vec<&String> = targets.iter().filter(|t| read.contains(*t)).collect();
        if hidden.is_empty() {
            return renames.clone();
        }
        let prefix = self.fresh_prefix();
        let mut inner = renames.clone();
        for name in hidden {
            inner.insert(name.clone(), format!("{prefix}{name}"));
        }
        inner
    }

    /// A block: its body starts with no renames (it sees only the context,
    /// like Jinja2 once the enclosing scopes are renamed); names it binds
    /// with `set` and a nested block reads are renamed in it.
    fn block(&mut self, b: &ast::Spanned<ast::Block<'_>>, depth: usize) {
        let mut read = BTreeSet::new();
        nested_block_reads(&b.body, &mut read);
        let mut renames = Renames::new();
        if !read.is_empty() {
            let mut bound = BTreeSet::new();
            set_targets(&b.body, &mut bound);
            let hidden: Vec<String> = bound.into_iter().filter(|n| read.contains(n)).collect();
            if !hidden.is_empty() {
                if let Some((tag_end, marker)) = self.tag_end(b.span().start_offset as usize) {
                    let prefix = self.fresh_prefix();
                    let mut init = String::new();
                    for name in &hidden {
                        let new = format!("{prefix}{name}");
                        init.push_str(&format!("{{% set {new} = {name} {marker}"));
                        renames.insert(name.clone(), new);
                    }
                    self.push(tag_end as u32, EditKind::Open, 0, init);
                }
            }
        }
        self.stmts(&b.body, &renames, depth);
    }

    /// The index of the first token that starts at or after `offset`.
    fn token_at(&self, offset: u32) -> usize {
        self.tokens
            .partition_point(|(_, span)| span.start_offset < offset)
    }

    /// The text of the iterable of the `for` tag that starts at `from`:
    /// the tokens after its `in`, up to its `if`, `recursive` or `%}`.
    fn iterable_extent(&self, from: u32) -> Option<(u32, u32)> {
        let mut depth = 0;
        let mut start = None;
        let mut end = None;
        for (token, span) in &self.tokens[self.token_at(from)..] {
            if depth == 0 {
                match (start, token) {
                    (None, Token::Ident("in")) => {
                        start = Some(u32::MAX);
                        continue;
                    }
                    (Some(_), Token::Ident("if" | "recursive") | Token::BlockEnd) => break,
                    (None, Token::BlockEnd) => return None,
                    _ => {}
                }
            }
            depth += depth_change(token);
            if let Some(s) = start.as_mut() {
                *s = (*s).min(span.start_offset);
                end = Some(span.end_offset);
            }
        }
        Some((start.filter(|s| *s != u32::MAX)?, end?))
    }

    /// The end of the tag that starts at or after `from`: the offset just
    /// after its `%}` and the closing marker (`%}`, `-%}` or `+%}`).
    fn tag_end(&self, from: usize) -> Option<(usize, &'static str)> {
        let rest = self.source.get(from..)?;
        let at = rest.find("%}")?;
        let end = from + at + 2;
        let marker = match rest[..at].chars().last() {
            Some('-') => "-%}",
            Some('+') => "+%}",
            _ => "%}",
        };
        Some((end, marker))
    }

    fn macro_decl(&mut self, m: &ast::Spanned<ast::Macro<'_>>, renames: &Renames, depth: usize) {
        for default in &m.defaults {
            self.expr(default, renames, depth);
        }
        // Parameters shadow renamed names (and must keep their names, so
        // that keyword arguments still match).
        let mut inner = renames.clone();
        for arg in &m.args {
            let mut names = BTreeSet::new();
            bound_names(arg, &mut names);
            for name in names {
                inner.remove(&name);
            }
        }
        self.stmts(&m.body, &inner, depth);
    }

    fn call(&mut self, c: &ast::Spanned<ast::Call<'_>>, renames: &Renames, depth: usize) {
        self.expr(&c.expr, renames, depth);
        self.args(&c.args, renames, depth);
    }

    fn args(&mut self, args: &[CallArg<'_>], renames: &Renames, depth: usize) {
        for arg in args {
            match arg {
                CallArg::Pos(e)
                | CallArg::Kwarg(_, e)
                | CallArg::PosSplat(e)
                | CallArg::KwargSplat(e) => self.expr(e, renames, depth),
            }
        }
    }

    fn expr(&mut self, expr: &Expr<'_>, renames: &Renames, depth: usize) {
        match expr {
            Expr::Var(v) => {
                if let Some(new) = renames.get(v.id) {
                    let span = v.span();
                    let len = (span.end_offset - span.start_offset) as usize;
                    if self
                        .source
                        .get(span.start_offset as usize..span.end_offset as usize)
                        == Some(v.id)
                    {
                        self.push(
                            span.start_offset,
                            EditKind::Replace(len),
                            depth,
                            new.clone(),
                        );
                    }
                }
            }
            Expr::Const(_) => {}
            Expr::Slice(s) => {
                self.expr(&s.expr, renames, depth + 1);
                for part in [&s.start, &s.stop, &s.step].into_iter().flatten() {
                    self.expr(part, renames, depth + 1);
                }
            }
            Expr::UnaryOp(u) => self.expr(&u.expr, renames, depth + 1),
            Expr::BinOp(b) => {
                if matches!(b.op, BinOpKind::Rem) {
                    self.percent(b, depth);
                }
                self.expr(&b.left, renames, depth + 1);
                self.expr(&b.right, renames, depth + 1);
            }
            Expr::Compare(c) => {
                self.expr(&c.expr, renames, depth + 1);
                for op in &c.ops {
                    self.expr(&op.expr, renames, depth + 1);
                }
            }
            Expr::IfExpr(i) => {
                self.expr(&i.test_expr, renames, depth + 1);
                self.expr(&i.true_expr, renames, depth + 1);
                if let Some(e) = &i.false_expr {
                    self.expr(e, renames, depth + 1);
                }
            }
            Expr::Filter(f) => {
                if let Some(e) = &f.expr {
                    self.expr(e, renames, depth + 1);
                }
                self.args(&f.args, renames, depth + 1);
            }
            Expr::Test(t) => {
                self.expr(&t.expr, renames, depth + 1);
                self.args(&t.args, renames, depth + 1);
            }
            Expr::GetAttr(g) => self.expr(&g.expr, renames, depth + 1),
            Expr::GetItem(g) => {
                self.expr(&g.expr, renames, depth + 1);
                self.expr(&g.subscript_expr, renames, depth + 1);
            }
            Expr::Call(c) => {
                self.expr(&c.expr, renames, depth + 1);
                self.args(&c.args, renames, depth + 1);
            }
            Expr::List(l) => {
                for item in &l.items {
                    self.expr(item, renames, depth + 1);
                }
            }
            Expr::Tuple(t) => {
                for item in &t.items {
                    self.expr(item, renames, depth + 1);
                }
            }
            Expr::Map(m) => {
                for item in m.keys.iter().chain(m.values.iter()) {
                    self.expr(item, renames, depth + 1);
                }
            }
        }
    }

    /// `A % B` -> `((A)|lava_jinja2_mod(B))`. The binary operation's
    /// span covers both operands (parentheses included); its operator is
    /// the last multiplicative operator outside brackets in it.
    fn percent(&mut self, b: &ast::Spanned<ast::BinOp<'_>>, depth: usize) {
        let span = b.span();
        let mut level = 0;
        let mut operator = None;
        for (token, tspan) in &self.tokens[self.token_at(span.start_offset)..] {
            if tspan.start_offset >= span.end_offset {
                break;
            }
            level += depth_change(token);
            if level == 0
                && matches!(
                    token,
                    Token::Mul | Token::Div | Token::FloorDiv | Token::Mod
                )
            {
                operator = Some((matches!(token, Token::Mod), tspan.start_offset));
            }
        }
        let Some((true, op)) = operator else {
            return;
        };
        self.push(span.start_offset, EditKind::Open, depth, "((".into());
        self.push(op, EditKind::Replace(1), depth, format!(")|{MOD_FILTER}("));
        self.push(span.end_offset, EditKind::Close, depth, "))".into());
    }
}

/// Names that an assignment target binds (`x`, `a, b`, `(a, (b, c))`).
fn bound_names(target: &Expr<'_>, out: &mut BTreeSet<String>) {
    match target {
        Expr::Var(v) => {
            out.insert(v.id.to_string());
        }
        Expr::Tuple(t) => {
            for item in &t.items {
                bound_names(item, out);
            }
        }
        Expr::List(l) => {
            for item in &l.items {
                bound_names(item, out);
            }
        }
        _ => {}
    }
}

/// Names bound by `set` anywhere in `stmts`, outside nested blocks and
/// macros (whose assignments are their own).
fn set_targets(stmts: &[Stmt<'_>], out: &mut BTreeSet<String>) {
    for stmt in stmts {
        match stmt {
            Stmt::Set(s) => bound_names(&s.target, out),
            Stmt::SetBlock(s) => {
                bound_names(&s.target, out);
                set_targets(&s.body, out);
            }
            Stmt::ForLoop(f) => {
                set_targets(&f.body, out);
                set_targets(&f.else_body, out);
            }
            Stmt::IfCond(i) => {
                set_targets(&i.true_body, out);
                set_targets(&i.false_body, out);
            }
            Stmt::WithBlock(w) => set_targets(&w.body, out),
            Stmt::AutoEscape(a) => set_targets(&a.body, out),
            Stmt::FilterBlock(f) => set_targets(&f.body, out),
            _ => {}
        }
    }
}

/// Every variable name read anywhere inside the blocks nested in `stmts`.
fn nested_block_reads(stmts: &[Stmt<'_>], out: &mut BTreeSet<String>) {
    for stmt in stmts {
        match stmt {
            Stmt::Block(b) => all_reads_stmts(&b.body, out),
            Stmt::ForLoop(f) => {
                nested_block_reads(&f.body, out);
                nested_block_reads(&f.else_body, out);
            }
            Stmt::IfCond(i) => {
                nested_block_reads(&i.true_body, out);
                nested_block_reads(&i.false_body, out);
            }
            Stmt::WithBlock(w) => nested_block_reads(&w.body, out),
            Stmt::SetBlock(s) => nested_block_reads(&s.body, out),
            Stmt::AutoEscape(a) => nested_block_reads(&a.body, out),
            Stmt::FilterBlock(f) => nested_block_reads(&f.body, out),
            Stmt::Macro(m) => nested_block_reads(&m.body, out),
            Stmt::CallBlock(c) => nested_block_reads(&c.macro_decl.body, out),
            _ => {}
        }
    }
}

fn all_reads_stmts(stmts: &[Stmt<'_>], out: &mut BTreeSet<String>) {
    for stmt in stmts {
        match stmt {
            Stmt::Template(t) => all_reads_stmts(&t.children, out),
            Stmt::EmitExpr(e) => all_reads(&e.expr, out),
            Stmt::EmitRaw(_) => {}
            Stmt::ForLoop(f) => {
                all_reads(&f.iter, out);
                if let Some(e) = &f.filter_expr {
                    all_reads(e, out);
                }
                all_reads_stmts(&f.body, out);
                all_reads_stmts(&f.else_body, out);
            }
            Stmt::IfCond(i) => {
                all_reads(&i.expr, out);
                all_reads_stmts(&i.true_body, out);
                all_reads_stmts(&i.false_body, out);
            }
            Stmt::WithBlock(w) => {
                for (_, e) in &w.assignments {
                    all_reads(e, out);
                }
                all_reads_stmts(&w.body, out);
            }
            Stmt::Set(s) => {
                all_reads(&s.target, out);
                all_reads(&s.expr, out);
            }
            Stmt::SetBlock(s) => {
                if let Some(f) = &s.filter {
                    all_reads(f, out);
                }
                all_reads_stmts(&s.body, out);
            }
            Stmt::AutoEscape(a) => all_reads_stmts(&a.body, out),
            Stmt::FilterBlock(f) => {
                all_reads(&f.filter, out);
                all_reads_stmts(&f.body, out);
            }
            Stmt::Block(b) => all_reads_stmts(&b.body, out),
            Stmt::Import(i) => all_reads(&i.expr, out),
            Stmt::FromImport(i) => all_reads(&i.expr, out),
            Stmt::Extends(e) => all_reads(&e.name, out),
            Stmt::Include(i) => all_reads(&i.name, out),
            Stmt::Macro(m) => {
                for d in &m.defaults {
                    all_reads(d, out);
                }
                all_reads_stmts(&m.body, out);
            }
            Stmt::CallBlock(c) => {
                all_reads(&c.call.expr, out);
                all_args(&c.call.args, out);
                all_reads_stmts(&c.macro_decl.body, out);
            }
            Stmt::Do(d) => {
                all_reads(&d.call.expr, out);
                all_args(&d.call.args, out);
            }
        }
    }
}

fn all_args(args: &[CallArg<'_>], out: &mut BTreeSet<String>) {
    for arg in args {
        match arg {
            CallArg::Pos(e)
            | CallArg::Kwarg(_, e)
            | CallArg::PosSplat(e)
            | CallArg::KwargSplat(e) => all_reads(e, out),
        }
    }
}

fn all_reads(expr: &Expr<'_>, out: &mut BTreeSet<String>) {
    match expr {
        Expr::Var(v) => {
            out.insert(v.id.to_string());
        }
        Expr::Const(_) => {}
        Expr::Slice(s) => {
            all_reads(&s.expr, out);
            for part in [&s.start, &s.stop, &s.step].into_iter().flatten() {
                all_reads(part, out);
            }
        }
        Expr::UnaryOp(u) => all_reads(&u.expr, out),
        Expr::BinOp(b) => {
            all_reads(&b.left, out);
            all_reads(&b.right, out);
        }
        Expr::Compare(c) => {
            all_reads(&c.expr, out);
            for op in &c.ops {
                all_reads(&op.expr, out);
            }
        }
        Expr::IfExpr(i) => {
            all_reads(&i.test_expr, out);
            all_reads(&i.true_expr, out);
            if let Some(e) = &i.false_expr {
                all_reads(e, out);
            }
        }
        Expr::Filter(f) => {
            if let Some(e) = &f.expr {
                all_reads(e, out);
            }
            all_args(&f.args, out);
        }
        Expr::Test(t) => {
            all_reads(&t.expr, out);
            all_args(&t.args, out);
        }
        Expr::GetAttr(g) => all_reads(&g.expr, out),
        Expr::GetItem(g) => {
            all_reads(&g.expr, out);
            all_reads(&g.subscript_expr, out);
        }
        Expr::Call(c) => {
            all_reads(&c.expr, out);
            all_args(&c.args, out);
        }
        Expr::List(l) => l.items.iter().for_each(|e| all_reads(e, out)),
        Expr::Tuple(t) => t.items.iter().for_each(|e| all_reads(e, out)),
        Expr::Map(m) => m
            .keys
            .iter()
            .chain(m.values.iter())
            .for_each(|e| all_reads(e, out)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rw(s: &str) -> String {
        rewrite(s, "t").into_owned()
    }

    #[test]
    fn plain_templates_are_not_touched() {
        let src = "a {{ b }} {% if c %}d{% endif %}";
        assert!(matches!(rewrite(src, "t"), Cow::Borrowed(_)));
    }

    #[test]
    fn percent_becomes_a_filter_call() {
        assert_eq!(
            rw("{{ '%s-%d' % ('a', 3) }}"),
            "{{ (('%s-%d' )|lava_jinja2_mod( ('a', 3))) }}"
        );
        assert_eq!(
            rw("{{ (a) % b % c }}"),
            "{{ (((((a) )|lava_jinja2_mod( b)) )|lava_jinja2_mod( c)) }}"
        );
    }

    #[test]
    fn for_iterables_are_wrapped_except_literals() {
        assert_eq!(
            rw("{% for c in s %}{% endfor %}{% for c in [1] %}{% endfor %}"),
            "{% for c in ((s)|lava_jinja2_iterable) %}{% endfor %}{% for c in [1] %}{% endfor %}"
        );
    }

    #[test]
    fn block_locals_read_by_nested_blocks_are_renamed() {
        let out = rw("{% block o -%}{% set v = v|default(1) %}{{ v }}{% block i %}{{ v }}{% endblock %}{% endblock %}");
        assert_eq!(
            out,
            "{% block o -%}{% set __lava_b0_v = v -%}{% set __lava_b0_v = __lava_b0_v|default(1) %}{{ __lava_b0_v }}{% block i %}{{ v }}{% endblock %}{% endblock %}"
        );
    }

    #[test]
    fn loop_targets_read_by_nested_blocks_are_renamed() {
        let out = rw("{% for v in [5] %}{{ v }}{% block i %}{{ v }}{% endblock %}{% endfor %}");
        assert_eq!(
            out,
            "{% for __lava_b0_v in [5] %}{{ __lava_b0_v }}{% block i %}{{ v }}{% endblock %}{% endfor %}"
        );
    }

    #[test]
    fn line_breaks_are_never_added() {
        let src = "{% block o %}\n{% set v = 1 %}\n{% for c in s %}{{ '%d' % c }}\n{% endfor %}\n{% block i %}{{ v }}{% endblock %}{% endblock %}\n";
        let out = rw(src);
        assert_ne!(out, src);
        assert_eq!(out.lines().count(), src.lines().count());
    }

    #[test]
    fn partial_node_spans_do_not_break_the_rewrite() {
        // A call's span starts at its `.items`, a filter's is its name.
        assert_eq!(
            rw("{% for k, v in d.items() %}{% endfor %}{% for x in f(a)|g if x %}{% endfor %}"),
            "{% for k, v in ((d.items())|lava_jinja2_iterable) %}{% endfor %}{% for x in ((f(a)|g)|lava_jinja2_iterable) if x %}{% endfor %}"
        );
        assert_eq!(
            rw("{{ x|f(1) % a.b() }}"),
            "{{ ((x|f(1) )|lava_jinja2_mod( a.b())) }}"
        );
    }

    /// Every template of LAVA's corpus is rewritten into text that parses
    /// (no silent fall-back to the unrewritten text).
    #[test]
    fn corpus_rewrites_all_parse() {
        let corpus = match std::env::var_os("LAVA_CORPUS_DIR") {
            Some(dir) => std::path::PathBuf::from(dir),
            None => {
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/lava-corpus")
            }
        };
        let Ok(dirs) = ["device-types", "devices"]
            .iter()
            .map(|d| std::fs::read_dir(corpus.join(d)))
            .collect::<Result<Vec<_>, _>>()
        else {
            println!("skipping: LAVA corpus not found at {}", corpus.display());
            return;
        };
        let mut rewritten = 0;
        for entry in dirs.into_iter().flatten() {
            let path = entry.unwrap().path();
            let text = std::fs::read_to_string(&path).unwrap();
            if matches!(prepare(&text, "t"), Cow::Owned(_)) {
                rewritten += 1;
            }
        }
        let failed = FAILED_REWRITES.with(|f| f.borrow().clone());
        assert!(failed.is_empty(), "{}", failed.join("\n\n"));
        assert!(rewritten > 0, "no template was rewritten");
    }

    #[test]
    fn broken_templates_come_back_unchanged() {
        let src = "{% for x in %}{{ 1 % 2 }}";
        assert_eq!(rw(src), src);
    }
}
