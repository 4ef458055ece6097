#!/usr/bin/python3
"""bench/nplusone/orm/heldout_py.py -- held-out N+1 workloads: Python ORMs and
access styles that the detector was not tuned on (Debian's python3-peewee,
python3-pony, python3-asyncpg, SQLAlchemy 1.4's 2.0-style select(), Django
access styles beyond python_orms.py), against the corpus schema n1c of
bench/nplusone/workloads.py.  Labels live in workloads.py (HELDOUT_LABELS).

Usage: heldout_py.py ORM CASE   (see CASES below)
Connection settings come from the libpq environment.
"""
import asyncio
import sys

from orm_env import ENV, SEARCH_PATH, django_setup, sqlalchemy_models, sqlalchemy_url

ORM, CASE = sys.argv[1], sys.argv[2]
# rows of their own for every (ORM, case): 20 consecutive posts have 20
# distinct authors (author_id = 1 + id % 500)
BASE = {"peewee": 1200, "pony": 1400, "asyncpg": 1600, "sqlalchemy2": 1800, "django2": 2000}[ORM]


def offset(k):
    return BASE + 20 * k


def peewee():
    import peewee as pw

    db = pw.PostgresqlDatabase(ENV["dbname"], user=ENV["user"], password=ENV["password"],
                               host=ENV["host"], port=ENV["port"], options=SEARCH_PATH)

    class Base(pw.Model):
        class Meta:
            database = db

    class Author(Base):
        name = pw.TextField()
        country = pw.TextField(null=True)

        class Meta:
            table_name = "authors"

    class Post(Base):
        author = pw.ForeignKeyField(Author, backref="posts", column_name="author_id")
        category_id = pw.IntegerField()
        title = pw.TextField()

        class Meta:
            table_name = "posts"

    class Comment(Base):
        post = pw.ForeignKeyField(Post, backref="comments", column_name="post_id")
        author = pw.ForeignKeyField(Author, column_name="author_id")
        body = pw.TextField()

        class Meta:
            table_name = "comments"

    class Audit(Base):
        id = pw.BigAutoField()
        post_id = pw.IntegerField()
        note = pw.TextField()

        class Meta:
            table_name = "audit"

    def page(k, n):
        return Post.select().order_by(Post.id).offset(offset(k)).limit(n)

    db.connect()
    if CASE == "lazy":
        for p in page(0, 20):
            p.author.name
    elif CASE == "prefetch":
        for p in pw.prefetch(page(0, 20), Author):
            p.author.name
    elif CASE == "join":
        for p in page(0, 20).select(Post, Author).join(Author):
            p.author.name
    elif CASE == "nested":
        for p in page(1, 6):
            for c in p.comments.order_by(Comment.id):
                c.author.name
    elif CASE == "atomic_save_loop":
        # each save() in its own transaction
        for p in page(2, 12):
            with db.atomic():
                p.title = p.title + "!"
                p.save()
    elif CASE == "create_loop":
        for p in page(3, 20):
            Audit.create(post_id=p.id, note="seen")
    elif CASE == "insert_many":
        Audit.insert_many([{"post_id": p.id, "note": "seen"} for p in page(3, 20)]).execute()
    db.close()


def pony():
    from pony import orm as po

    db = po.Database()

    class Author(db.Entity):
        _table_ = "authors"
        id = po.PrimaryKey(int)
        name = po.Required(str)
        country = po.Optional(str, nullable=True)
        posts = po.Set("Post")
        comments = po.Set("Comment")

    class Post(db.Entity):
        _table_ = "posts"
        id = po.PrimaryKey(int)
        author = po.Required(Author, column="author_id")
        category_id = po.Required(int)
        title = po.Required(str)
        comments = po.Set("Comment")

    class Comment(db.Entity):
        _table_ = "comments"
        id = po.PrimaryKey(int)
        post = po.Required(Post, column="post_id")
        author = po.Required(Author, column="author_id")
        body = po.Required(str)

    db.bind(provider="postgres", user=ENV["user"], password=ENV["password"], host=ENV["host"],
            port=ENV["port"], database=ENV["dbname"], options=SEARCH_PATH)
    db.generate_mapping(create_tables=False, check_tables=False)

    def page(k, n):
        return po.select(p for p in Post).order_by(Post.id)[offset(k):offset(k) + n]

    if CASE == "lazy":
        with po.db_session:
            for p in page(0, 20):
                p.author.name
    elif CASE == "prefetch":
        with po.db_session:
            for p in po.select(p for p in Post).order_by(Post.id).prefetch(Post.author)[
                    offset(0):offset(0) + 20]:
                p.author.name
    elif CASE == "session_per_item":
        # one db_session (transaction) per item: read the post by key, change it
        with po.db_session:
            ids = [p.id for p in page(1, 12)]
        for pid in ids:
            with po.db_session:
                p = Post[pid]
                p.title = p.title + "!"


def asyncpg_():
    import asyncpg

    dsn = dict(host=ENV["host"], port=ENV["port"], user=ENV["user"] or None,
               password=ENV["password"] or None, database=ENV["dbname"],
               server_settings={"search_path": "n1c"})
    parent = "SELECT id, author_id FROM posts ORDER BY id LIMIT 20 OFFSET $1"
    child = "SELECT id, name FROM authors WHERE id = $1"

    async def run():
        if CASE == "loop":
            conn = await asyncpg.connect(**dsn)
            for r in await conn.fetch(parent, offset(0)):
                await conn.fetchrow(child, r["author_id"])
            await conn.close()
        elif CASE == "gather_pool":
            # the lookups all at once on a pool of 10 connections
            pool = await asyncpg.create_pool(min_size=10, max_size=10, **dsn)
            rows = await pool.fetch(parent, offset(1))
            await asyncio.gather(*(pool.fetchrow(child, r["author_id"]) for r in rows))
            await pool.close()
        elif CASE == "any_batch":
            conn = await asyncpg.connect(**dsn)
            rows = await conn.fetch(parent, offset(2))
            await conn.fetch("SELECT id, name FROM authors WHERE id = ANY($1::int[])",
                             [r["author_id"] for r in rows])
            await conn.close()
        elif CASE == "executemany":
            conn = await asyncpg.connect(**dsn)
            rows = await conn.fetch(parent, offset(3))
            await conn.executemany("INSERT INTO audit (post_id, note) VALUES ($1, $2)",
                                   [(r["id"], "seen") for r in rows])
            await conn.close()
    asyncio.run(run())


def sqlalchemy2():
    from sqlalchemy import create_engine, select, update
    from sqlalchemy.orm import Session, selectinload

    Author, Post, Comment, Audit = sqlalchemy_models()
    url = sqlalchemy_url()
    engine = create_engine(url, connect_args={"options": SEARCH_PATH}, future=True)

    def page(k, n):
        return select(Post).order_by(Post.id).offset(offset(k)).limit(n)

    if CASE == "lazy":
        with Session(engine) as s:
            for p in s.scalars(page(0, 20)):
                p.author.name
    elif CASE == "selectin":
        with Session(engine) as s:
            for p in s.scalars(page(1, 20).options(selectinload(Post.comments))):
                list(p.comments)
    elif CASE == "in_batch":
        with Session(engine) as s:
            ids = list(s.scalars(select(Post.author_id).order_by(Post.id)
                                 .offset(offset(2)).limit(20)))
            list(s.scalars(select(Author).where(Author.id.in_(ids))))
    elif CASE == "session_per_item":
        # a unit of work per item, each in its own transaction
        with Session(engine) as s:
            ids = list(s.scalars(select(Post.id).order_by(Post.id).offset(offset(3)).limit(12)))
        for pid in ids:
            with Session(engine) as s, s.begin():
                p = s.get(Post, pid)
                p.title = p.title + "!"
    elif CASE == "bulk_update":
        with Session(engine) as s, s.begin():
            ids = list(s.scalars(select(Post.id).order_by(Post.id).offset(offset(3)).limit(12)))
            s.execute(update(Post).where(Post.id.in_(ids)).values(title=Post.title + "?"))
    elif CASE == "count_per_row":
        from sqlalchemy import func
        with Session(engine) as s:
            for p in s.scalars(page(4, 15)):
                s.scalar(select(func.count()).select_from(Comment).where(Comment.post_id == p.id))
    engine.dispose()


def django2():
    django_setup()
    from django.db import transaction
    from django.db.models import Prefetch
    from django_n1.models import Author, Comment, Post

    def page(k, n):
        return Post.objects.order_by("id")[offset(k):offset(k) + n]

    if CASE == "only_deferred":
        # a deferred field read per row: one query per post
        for p in page(0, 20).only("id", "title"):
            p.category_id
    elif CASE == "values_list_get":
        for aid in page(1, 20).values_list("author_id", flat=True):
            Author.objects.get(pk=aid)
    elif CASE == "prefetch_object":
        qs = Comment.objects.only("id", "body", "post_id").order_by("id")
        for p in page(2, 20).prefetch_related(Prefetch("comments", queryset=qs)):
            list(p.comments.all())
    elif CASE == "in_bulk":
        ids = list(page(3, 20).values_list("author_id", flat=True))
        Author.objects.in_bulk(ids)
    elif CASE == "atomic_per_item":
        for p in page(4, 12):
            with transaction.atomic():
                p.title += "!"
                p.save(update_fields=["title"])
    elif CASE == "count_per_row":
        for p in page(5, 15):
            p.comments.count()


{"peewee": peewee, "pony": pony, "asyncpg": asyncpg_, "sqlalchemy2": sqlalchemy2,
 "django2": django2}[ORM]()
