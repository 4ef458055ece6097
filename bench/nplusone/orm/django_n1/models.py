"""Models over the corpus schema n1c (tables made by workloads.py)."""
from django.db import models


class Author(models.Model):
    name = models.TextField()
    country = models.TextField(null=True)

    class Meta:
        db_table = "authors"
        managed = False


class Post(models.Model):
    author = models.ForeignKey(Author, on_delete=models.DO_NOTHING)
    category_id = models.IntegerField()
    title = models.TextField()

    class Meta:
        db_table = "posts"
        managed = False


class Comment(models.Model):
    post = models.ForeignKey(Post, on_delete=models.DO_NOTHING, related_name="comments")
    author = models.ForeignKey(Author, on_delete=models.DO_NOTHING)
    body = models.TextField()

    class Meta:
        db_table = "comments"
        managed = False


class Audit(models.Model):
    id = models.BigAutoField(primary_key=True)
    post_id = models.IntegerField()
    note = models.TextField()

    class Meta:
        db_table = "audit"
        managed = False
